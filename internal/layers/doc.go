// Package layers holds no code: its test keeps the direction of the
// module's imports. The wire package (proto, with its generated tacitpb)
// may import the domain packages it converts, never the other way: the
// model, the data sets, privacy, aggregation and SecAgg, the codecs and
// the round machine know nothing of the wire, so each can be used, tested
// and changed on its own. The codecs import no other Tacit package at all,
// and the round machine imports nothing that drives or configures it
// (coordinator, settings, simulate, client).
package layers
