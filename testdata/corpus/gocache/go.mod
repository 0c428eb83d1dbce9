module example.com/gocache

go 1.26

require github.com/patrickmn/go-cache v2.1.0+incompatible
