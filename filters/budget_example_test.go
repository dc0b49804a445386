package filters_test

import (
	"fmt"
	"time"

	"github.com/typhon-go/typhon"
	"github.com/typhon-go/typhon/filters"
)

func ExampleRetryBudget() {
	var budget filters.RetryBudget // Finagle's defaults: 20% + 10/s over 10 s
	fmt.Println(budget.Balance())  // the floor is there at once

	for range 1000 { // 1,000 calls
		budget.Deposit()
	}
	fmt.Println(budget.Balance()) // plus 20% of them

	for budget.Withdraw() { // a backend that fails everything
	}
	fmt.Println(budget.Balance())
	// Output:
	// 100
	// 300
	// 0
}

func ExampleWithRetryBudget() {
	// One budget for every call to the orders backend: retries and backup
	// requests together stay within 20% of calls plus 10 a second.
	budget := filters.NewRetryBudget(0.2, 10, 10*time.Second)
	orders := typhon.Service(typhon.DefaultClient).
		Filter(filters.Hedge(filters.WithRetryBudget(budget))).
		Filter(filters.Retry(filters.WithRetryBudget(budget)))
	_ = orders
	fmt.Println(budget.Balance())
	// Output: 100
}
