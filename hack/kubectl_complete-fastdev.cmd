@echo off
rem kubectl (1.26+) runs this file, found on PATH, to complete the words after `kubectl fastdev`;
rem it hands them to the plugin's own completion command (see docs/install.md).
kubectl fastdev __complete %*
