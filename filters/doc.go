// Package filters holds typhon's Filters: each wraps a [typhon.Service]
// with one concern, on either side of the wire, and composes with the others
// through [typhon.Service.Filter].
//
// A filter with no settings is a typhon.Filter value; one with settings is a
// constructor named after it, taking options (With…) that belong to that
// filter alone. Each filter is usable with no options, and documents its
// defaults.
package filters
