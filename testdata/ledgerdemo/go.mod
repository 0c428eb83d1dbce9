module ledgerdemo

go 1.26
