// Package wasmforgehttp serves http.DefaultServeMux as a wasi:http handler. `wasmforge
// build` copies it into the module (internal/wasmforgehttp) and the main package imports it;
// it exports `handle` of wasmforge:go-http/handler (go-http.wit), which wasmforge's C bridge
// calls with each request, and it makes http.DefaultTransport send through the bridge's
// `send`, so http.Get and friends reach the hosts the manifest allows.
//
// Requests and responses cross as one byte string each; every integer is a little-endian
// uint32 and every string is its length, then its bytes:
//
//	request:  method scheme authority path-with-query count (name value)* body
//	response: status count (name value)* body        (status 0: body is the error)
package wasmforgehttp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"unsafe"
)

// Buffers the host points at stay referenced by these globals (Go's collector does not
// move memory, but it would free a buffer only the host points at): `room`, made for a list
// that is about to arrive; `landed`, where it arrived; `answered`, what `handle` returns.
var room, landed, answered []byte

var empty [8]byte

func address(b []byte) uint32 {
	if len(b) == 0 {
		return uint32(uintptr(unsafe.Pointer(&empty)))
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// The canonical ABI's allocator, for the request `handle` receives and the answer
// `receive` returns. It hands out the room made beforehand (`reserve`, RoundTrip) and never
// allocates, not even a map entry: Go's allocator may read the clock, and an instance may
// not call out while a list is copied into it. It is exported under the two names
// wit-component asks for, and not as cabi_realloc, which the WASI adapter would call while
// Go is starting.
func realloc(old, oldSize, align, newSize uint32) uint32 {
	if newSize == 0 {
		return address(nil)
	}
	if old != 0 || uint32(len(room)) < newSize {
		panic("wasmforgehttp: a list arrived without room made for it")
	}
	landed, room = room, nil
	return address(landed)
}

//go:wasmexport cabi_export_realloc
func exportRealloc(old, oldSize, align, newSize uint32) uint32 {
	return realloc(old, oldSize, align, newSize)
}

//go:wasmexport cabi_import_realloc
func importRealloc(old, oldSize, align, newSize uint32) uint32 {
	return realloc(old, oldSize, align, newSize)
}

//go:wasmexport wasmforge:go-http/handler@0.1.0#reserve
func reserve(size uint32) {
	room = make([]byte, size)
}

func view(at, length uint32) []byte {
	if length == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(at))), length)
}

var errShort = errors.New("wasmforgehttp: message ends early")

type reader struct {
	b   []byte
	err error
}

func (r *reader) number() uint32 {
	if len(r.b) < 4 {
		r.err = errShort
		return 0
	}
	n := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return n
}

func (r *reader) bytes() []byte {
	n := r.number()
	if uint32(len(r.b)) < n {
		r.err = errShort
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) text() string { return string(r.bytes()) }

func (r *reader) header() http.Header {
	h := http.Header{}
	for n := r.number(); n > 0 && r.err == nil; n-- {
		name := r.text()
		h.Add(name, r.text())
	}
	return h
}

type writer struct{ bytes.Buffer }

func (w *writer) number(n uint32) { w.Write(binary.LittleEndian.AppendUint32(nil, n)) }

func (w *writer) text(s string) {
	w.number(uint32(len(s)))
	w.WriteString(s)
}

func (w *writer) header(h http.Header) {
	count := 0
	for _, values := range h {
		count += len(values)
	}
	w.number(uint32(count))
	for name, values := range h {
		for _, value := range values {
			w.text(name)
			w.text(value)
		}
	}
}

// recorder is the http.ResponseWriter a handler writes to, answering as net/http's server
// does: 200 unless told, and a sniffed Content-Type when the handler sets none.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

func (r *recorder) answer() []byte {
	r.WriteHeader(http.StatusOK)
	if r.header.Get("Content-Type") == "" && r.body.Len() > 0 {
		r.header.Set("Content-Type", http.DetectContentType(r.body.Bytes()))
	}
	var w writer
	w.number(uint32(r.status))
	w.header(r.header)
	w.text(r.body.String())
	return w.Bytes()
}

func request(message []byte) (*http.Request, error) {
	in := &reader{b: message}
	method, scheme, authority, target := in.text(), in.text(), in.text(), in.text()
	header := in.header()
	body := in.bytes()
	if in.err != nil {
		return nil, in.err
	}
	req, err := http.NewRequest(method, scheme+"://"+authority+target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header
	req.Host = authority
	req.RequestURI = target
	return req, nil
}

// serve runs the handler, answering 500 (and logging the stack on stderr) for a panic, as
// net/http's server would end the connection.
func serve(req *http.Request) (answer []byte) {
	out := &recorder{header: http.Header{}}
	defer func() {
		if failure := recover(); failure != nil {
			fmt.Fprintf(os.Stderr, "http: panic serving %s: %v\n%s", req.URL.Path, failure,
				debug.Stack())
			out = &recorder{header: http.Header{}, status: http.StatusInternalServerError}
			out.body.WriteString("Internal Server Error\n")
			answer = out.answer()
		}
	}()
	http.DefaultServeMux.ServeHTTP(out, req)
	return out.answer()
}

var answerAt [2]uint32

//go:wasmexport wasmforge:go-http/handler@0.1.0#handle
func handle(at, length uint32) uint32 {
	message := view(at, length)
	landed = nil // message refers to it now
	var answer []byte
	if req, err := request(message); err != nil {
		bad := &recorder{header: http.Header{}, status: http.StatusBadRequest}
		bad.body.WriteString(err.Error() + "\n")
		answer = bad.answer()
	} else {
		answer = serve(req)
	}
	answered = answer
	answerAt = [2]uint32{address(answer), uint32(len(answer))}
	return uint32(uintptr(unsafe.Pointer(&answerAt)))
}

//go:wasmimport wasmforge:go-http/outbound@0.1.0 send
func send(at, length uint32) uint32

//go:wasmimport wasmforge:go-http/outbound@0.1.0 receive
func receive(answer uint32)

// Where `receive` writes its answer's address and length.
var receivedAt [2]uint32

// transport sends each request through wasi:http/outgoing-handler; the host checks it
// against the manifest's network allow-list.
type transport struct{}

func (transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	var w writer
	w.text(req.Method)
	w.text(req.URL.Scheme)
	w.text(req.URL.Host)
	w.text(req.URL.RequestURI())
	w.header(req.Header)
	w.text(string(body))
	message := w.Bytes()
	size := send(address(message), uint32(len(message)))
	runtime.KeepAlive(message) // the host read it from there
	room = make([]byte, size)
	receive(uint32(uintptr(unsafe.Pointer(&receivedAt))))
	in := &reader{b: view(receivedAt[0], receivedAt[1])}
	landed = nil
	status := in.number()
	if status == 0 {
		return nil, errors.New(in.text())
	}
	resp := &http.Response{StatusCode: int(status), Proto: "HTTP/1.1", ProtoMajor: 1,
		ProtoMinor: 1, Request: req}
	resp.Status = fmt.Sprintf("%d %s", status, http.StatusText(int(status)))
	resp.Header = in.header()
	data := in.bytes()
	if in.err != nil {
		return nil, in.err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

func init() {
	http.DefaultTransport = transport{}
}
