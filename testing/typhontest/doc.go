// Package typhontest helps test typhon Services, as net/http/httptest helps
// test handlers. Everything in it belongs to one test: no package-level
// client is swapped, so tests that use it can run with t.Parallel (except
// [Run], whose leak check needs the test to itself).
//
// Requests and assertions: [NewRequest] builds a Request in one line, with
// the test's context. [AssertStatus], [AssertOK], [AssertCode],
// [AssertHeader], [AssertBody] and [AssertJSON] check one thing about a
// Response; on failure they report with t.Errorf a message that names what
// differs and prints the Response (status line, headers, the first KiB of the
// body, the error) at the caller's line, and return false, so the test goes
// on or stops as the caller decides:
//
//	if !typhontest.AssertStatus(t, rsp, 200) {
//		return
//	}
//
// [Decode] returns the decoded body or stops the test. None of them consumes
// the body: what they read of it stays in memory and rsp.Body reads it again
// from the start, so a later assertion, Decode or failure message sees it
// too.
//
// Downstreams: [NewStubs] routes the outbound calls of the Service under
// test to in-process Services by host, through the request's context
// ([typhon.WithClient]), and records them. [NewMock] is a scripted Service
// (answers, errors, latency, hangs, panics, in order) that is deterministic
// under testing/synctest.
//
// The wire: [NewServer] serves a Service over a real HTTP/1.1, h2c or TLS h2
// connection on an in-memory [Listener], with no port; [Listen] does the same
// on a loopback port. Both come with a client that speaks their [Protocol],
// and stop at the end of the test. [Run] runs an end-to-end test over each
// Protocol, with a goroutine leak check after each. For what they do not
// serve or send, [Protocol.Transport] is a client transport that speaks a
// Protocol, and [TLSConfigs] the certificate H2 servers present with a
// client configuration that trusts it.
//
// Failures are reported through [testing.TB]. The functions that cannot
// return what they were asked for (NewRequest, Decode, NewServer, Listen,
// Stubs.Handle) stop the test with t.Fatalf, and so must be called from the
// test's goroutine; everything else reports with t.Errorf and may run on any
// goroutine while the test runs.
package typhontest
