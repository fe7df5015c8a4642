module github.com/lorafn/lorafn

go 1.26

require gonum.org/v1/gonum v0.17.0

require golang.org/x/text v0.23.0
