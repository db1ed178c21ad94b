package exposition

// SetProtoChunk sets how many series are marshalled at a time in protobuf,
// so that tests with a few series cross chunk boundaries; it returns the
// function that puts the default back.
func SetProtoChunk(n int) (restore func()) {
	old := protoChunk
	protoChunk = n
	return func() { protoChunk = old }
}
