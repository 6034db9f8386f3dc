// Package usage turns requests into accounted usage: it prices tokens
// (Prices), estimates a prompt's tokens before the call for rate limits
// (EstimateInput) and writes usage records to the store off the request
// path (Writer), spooling them to local disk while the store is down so
// that none is lost.
package usage
