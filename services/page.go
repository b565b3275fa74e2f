package services

// Page is one page of a listing and the total number of matches.
type Page[T any] struct {
	Items  []T
	Total  int64
	Limit  int
	Offset int
}

// HasMore reports whether another page follows.
func (p Page[T]) HasMore() bool { return int64(p.Offset+len(p.Items)) < p.Total }
