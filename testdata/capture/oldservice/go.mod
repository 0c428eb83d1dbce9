module example.com/oldservice

go 1.19
