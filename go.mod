module github.com/typhon-go/typhon

go 1.26.8

require (
	github.com/go-chi/chi/v5 v5.5.0
	go.uber.org/goleak v1.3.0
)
