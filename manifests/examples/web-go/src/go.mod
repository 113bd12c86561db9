module example.com/web-go

go 1.26
