package filters_test

import (
	"context"
	"fmt"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleIsIdempotent() {
	ctx := context.Background()
	get := typhon.NewRequest(ctx, "GET", "http://orders/orders/42", nil)
	post := typhon.NewRequest(ctx, "POST", "http://orders/orders", map[string]int{"qty": 1})
	fmt.Println(filters.IsIdempotent(get), filters.IsIdempotent(post))

	// A key lets the server do the POST at most once, so it may be sent again.
	post.Header.Set("Idempotency-Key", "5c1a7e0e")
	fmt.Println(filters.IsIdempotent(post))
	// Output:
	// true false
	// true
}
