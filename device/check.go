package device

// Check says whether Record would refuse e for what it holds (its kind,
// item, weight or a time in the future), without keeping it: for an
// import that names the first bad row before it records any. It does not
// check retention, which RecordBatch skips rather than refuses.
func (d *Device) Check(e *Event) error {
	if e == nil {
		return ErrBadEvent
	}
	c := *e
	return d.check(&c)
}
