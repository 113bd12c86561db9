import sys

def handler(req:
    return req
