module example.com/logjam

go 1.26
