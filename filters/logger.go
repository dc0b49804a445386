package filters

import "log/slog"

// WithLogger sets the logger a filter reports to what it cannot answer: a
// recovered panic with its stack ([Recover]), a panic in a Service whose
// result came too late to be answered ([Timeout]). The default is
// slog.Default(), looked up when the filter is built. A nil l means the
// default.
//
// One WithLogger serves every filter that logs: its type, [LoggerOption],
// is an option of each of them.
func WithLogger(l *slog.Logger) LoggerOption {
	return LoggerOption{logger: l}
}

// LoggerOption is the option [WithLogger] returns. It is a [LogOption], a
// [RecoverOption], a [StackOption] and a [TimeoutOption].
type LoggerOption struct{ logger *slog.Logger }

// loggerOrDefault returns l, or slog.Default() when l is nil.
func loggerOrDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
