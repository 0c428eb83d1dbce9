module example.com/seedmap

go 1.26
