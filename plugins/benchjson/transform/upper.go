package transform

// Upper appends src to dst[:0] with the ASCII letters upper-cased: the
// lightest transform worth the name, for measuring what a plugin costs
// when the work itself is small. The C and WAT examples do the same.
func Upper(dst, src []byte) []byte {
	dst = append(dst[:0], src...)
	for i, c := range dst {
		if 'a' <= c && c <= 'z' {
			dst[i] = c - ('a' - 'A')
		}
	}
	return dst
}
