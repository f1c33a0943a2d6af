module example.com/heap

go 1.22
