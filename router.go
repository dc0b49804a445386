package typhon

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
)

// Router routes Requests to Services by method and path, on chi's radix
// tree. Patterns are chi's: "/users/{id}", "/users/{id:[0-9]+}", and a
// trailing "/*" wildcard; the values are read with req.PathValue("id") (and
// req.PathValue("*")), percent-decoded as http.ServeMux decodes them.
// Matching uses the escaped path, and trailing slashes are significant.
//
// The zero Router is ready to use. Register routes, then call [Router.Serve]
// once for the Service that routes to them; registering after Serve panics.
// [Router.With] and [Router.Route] give views of the same Router that add
// filters or a path prefix to the routes registered through them.
//
// A GET route answers HEAD too, unless a HEAD route is registered for the
// same pattern. A request whose path matches no route is answered not_found
// (404); one whose path matches a route of other methods is answered
// method_not_allowed (405) with an Allow header.
//
// Register and its shorthands are safe for concurrent use; so is the Service
// that Serve returns.
type Router struct {
	once    sync.Once
	core    *routerCore
	prefix  string
	filters []Filter
}

// routeMethods are the methods a Router routes, in the order Allow lists them.
var routeMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace,
}

func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	case http.MethodConnect:
		return 7
	case http.MethodTrace:
		return 8
	}
	return -1
}

const headIndex = 1

type routerCore struct {
	mu sync.Mutex
	// mux has each route under its methods; paths has every pattern under
	// every method, to tell a 405 from a 404 with one lookup.
	mux, paths *chi.Mux
	routes     map[string]*route // by pattern as registered in chi
	keys       map[string]string // method + pattern without names -> pattern
	methods    uint16            // bit i: some route has routeMethods[i]
	served     atomic.Bool
	rctxPool   sync.Pool
}

type route struct {
	pattern  string
	svcs     [len(routeMethods)]Service
	explicit [len(routeMethods)]bool
	mount    bool
}

func (r *Router) getCore() *routerCore {
	r.once.Do(func() {
		if r.core == nil {
			r.core = &routerCore{
				mux:    chi.NewMux(),
				paths:  chi.NewMux(),
				routes: make(map[string]*route),
				keys:   make(map[string]string),
			}
			r.core.rctxPool.New = func() any { return chi.NewRouteContext() }
		}
	})
	return r.core
}

// With returns a view of r whose routes are wrapped in filters, the first
// outermost, inside the filters of r itself.
func (r *Router) With(filters ...Filter) *Router {
	fs := make([]Filter, 0, len(r.filters)+len(filters))
	fs = append(append(fs, r.filters...), filters...)
	return &Router{core: r.getCore(), prefix: r.prefix, filters: fs}
}

// Route calls fn with a view of r whose patterns start with prefix, and
// returns that view: r.Route("/users", func(r *Router) { r.GET("/{id}", get) })
// registers "/users/{id}".
func (r *Router) Route(prefix string, fn func(r *Router)) *Router {
	if !strings.HasPrefix(prefix, "/") {
		panic(fmt.Sprintf("typhon: route prefix %q must begin with '/'", prefix))
	}
	sub := &Router{core: r.getCore(), prefix: joinPattern(r.prefix, prefix), filters: r.filters}
	if fn != nil {
		fn(sub)
	}
	return sub
}

func joinPattern(prefix, pattern string) string {
	if prefix == "" {
		return pattern
	}
	return strings.TrimSuffix(prefix, "/") + pattern
}

// GET registers svc for GET (and HEAD) requests matching pattern.
func (r *Router) GET(pattern string, svc Service) { r.Register(http.MethodGet, pattern, svc) }

// HEAD registers svc for HEAD requests matching pattern.
func (r *Router) HEAD(pattern string, svc Service) { r.Register(http.MethodHead, pattern, svc) }

// POST registers svc for POST requests matching pattern.
func (r *Router) POST(pattern string, svc Service) { r.Register(http.MethodPost, pattern, svc) }

// PUT registers svc for PUT requests matching pattern.
func (r *Router) PUT(pattern string, svc Service) { r.Register(http.MethodPut, pattern, svc) }

// PATCH registers svc for PATCH requests matching pattern.
func (r *Router) PATCH(pattern string, svc Service) { r.Register(http.MethodPatch, pattern, svc) }

// DELETE registers svc for DELETE requests matching pattern.
func (r *Router) DELETE(pattern string, svc Service) { r.Register(http.MethodDelete, pattern, svc) }

// OPTIONS registers svc for OPTIONS requests matching pattern.
func (r *Router) OPTIONS(pattern string, svc Service) { r.Register(http.MethodOptions, pattern, svc) }

// Register registers svc for requests with method whose path matches
// pattern. It panics, with a message that starts "typhon:", on an unknown
// method, a nil svc, an invalid pattern, a pattern that conflicts with one
// registered before (the same method and the same pattern once parameter
// names are erased), or after Serve.
func (r *Router) Register(method, pattern string, svc Service) {
	mi := methodIndex(method)
	if mi < 0 {
		panic(fmt.Sprintf("typhon: cannot route method %q", method))
	}
	r.register([]int{mi}, pattern, svc, false)
}

// Mount routes every request whose path is pattern or starts with pattern
// followed by "/", whatever its method, to svc. When svc is (or wraps) the
// Service of another Router, that Router routes the rest of the path, and
// [RoutePattern] gives the whole pattern, mount point included.
func (r *Router) Mount(pattern string, svc Service) {
	all := make([]int, len(routeMethods))
	for i := range all {
		all[i] = i
	}
	base := strings.TrimSuffix(pattern, "/")
	if base != "" {
		r.register(all, base, svc, true)
	}
	r.register(all, base+"/*", svc, true)
}

func (r *Router) register(methods []int, pattern string, svc Service, mount bool) {
	if svc == nil {
		panic(fmt.Sprintf("typhon: nil Service for %q", pattern))
	}
	if !strings.HasPrefix(pattern, "/") {
		panic(fmt.Sprintf("typhon: pattern %q must begin with '/'", pattern))
	}
	for i := len(r.filters) - 1; i >= 0; i-- {
		svc = svc.Filter(r.filters[i])
	}
	full := joinPattern(r.prefix, pattern)
	c := r.getCore()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.served.Load() {
		panic(fmt.Sprintf("typhon: Register(%q) after Serve", full))
	}
	shape, err := patternShape(full)
	if err != nil {
		panic(fmt.Sprintf("typhon: invalid pattern %q: %v", full, err))
	}
	for _, mi := range methods {
		if prev, ok := c.keys[routeMethods[mi]+" "+shape]; ok {
			rt := c.routes[prev]
			if !(mi == headIndex && !rt.explicit[headIndex]) {
				panic(fmt.Sprintf("typhon: %s %q conflicts with %s %q, registered before",
					routeMethods[mi], full, routeMethods[mi], prev))
			}
		}
	}
	rt := c.routes[full]
	if rt == nil {
		rt = &route{pattern: full, mount: mount}
		if err := chiHandle(c.paths, "", full); err != nil {
			panic(fmt.Sprintf("typhon: invalid pattern %q: %v", full, err))
		}
		c.routes[full] = rt
	}
	for _, mi := range methods {
		if rt.svcs[mi] == nil {
			if err := chiHandle(c.mux, routeMethods[mi], full); err != nil {
				panic(fmt.Sprintf("typhon: invalid pattern %q: %v", full, err))
			}
		}
		rt.svcs[mi], rt.explicit[mi] = svc, true
		c.keys[routeMethods[mi]+" "+shape] = full
		c.methods |= 1 << mi
		if mi == 0 && !c.explicitHEAD(rt, shape) { // GET answers HEAD
			if rt.svcs[headIndex] == nil {
				if err := chiHandle(c.mux, http.MethodHead, full); err != nil {
					panic(fmt.Sprintf("typhon: invalid pattern %q: %v", full, err))
				}
			}
			rt.svcs[headIndex] = svc
			c.keys[http.MethodHead+" "+shape] = full
			c.methods |= 1 << headIndex
		}
	}
}

// explicitHEAD reports whether a HEAD route was registered for rt or for
// another pattern of the same shape, which a GET route must not replace.
func (c *routerCore) explicitHEAD(rt *route, shape string) bool {
	if rt.explicit[headIndex] {
		return true
	}
	prev, ok := c.keys[http.MethodHead+" "+shape]
	return ok && c.routes[prev].explicit[headIndex]
}

// chiHandle registers pattern with chi, turning chi's panic into an error.
func chiHandle(mux *chi.Mux, method, pattern string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	if method == "" {
		mux.Handle(pattern, http.NotFoundHandler())
	} else {
		mux.Method(method, pattern, http.NotFoundHandler())
	}
	return nil
}

// patternShape returns pattern with the names of its parameters erased and
// its regexps anchored as chi anchors them: "/users/{id:[0-9]+}" becomes
// "/users/{:^[0-9]+$}". Two patterns of one shape match the same paths.
func patternShape(pattern string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '}' {
			return "", fmt.Errorf("unmatched '}' at offset %d", i)
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		depth, j := 1, i+1
		for ; j < len(pattern) && depth > 0; j++ {
			switch pattern[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		if depth != 0 {
			return "", fmt.Errorf("unmatched '{' at offset %d", i)
		}
		param := pattern[i+1 : j-1]
		b.WriteByte('{')
		if k := strings.IndexByte(param, ':'); k >= 0 {
			b.WriteByte(':')
			if rex := param[k+1:]; rex != "" {
				if rex[0] != '^' {
					b.WriteByte('^')
				}
				b.WriteString(rex)
				if rex[len(rex)-1] != '$' {
					b.WriteByte('$')
				}
			}
		} else if param == "" {
			return "", fmt.Errorf("empty parameter name at offset %d", i)
		}
		b.WriteByte('}')
		i = j - 1
	}
	return b.String(), nil
}

var (
	errNoRoute          = NewError(CodeNotFound, "not found")
	errMethodNotAllowed = NewError(CodeMethodNotAllowed, "method not allowed")
)

// Serve returns the Service that routes to the registered routes. After
// Serve, the Router takes no more routes.
func (r *Router) Serve() Service {
	c := r.getCore()
	// Under the lock, so that every Register that started before Serve
	// has finished before the first request is routed.
	c.mu.Lock()
	c.served.Store(true)
	c.mu.Unlock()
	return c.serve
}

func (c *routerCore) serve(req Request) Response {
	if req.Request == nil {
		return normalize(Response{Error: req.err()}, req)
	}
	x := req.exchange()
	path, prefix, mounted := routingPath(req.Request), "", x.mounted
	if mounted {
		path, prefix = x.mountPath, x.mountPattern
		x.mounted = false
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet // as net/http reads an empty method
	}
	mi := methodIndex(method)
	rctx := c.rctxPool.Get().(*chi.Context)
	rctx.Reset()
	var pattern string
	if mi >= 0 {
		pattern = c.mux.Find(rctx, method, path)
	}
	if pattern == "" {
		rsp := c.miss(rctx, req, path)
		c.rctxPool.Put(rctx)
		return rsp
	}
	rt := c.routes[pattern]
	if mounted {
		// The mount point's wildcard was for this Router, not its routes;
		// clear it as chi does.
		x.setPathValue("*", "")
	}
	params := &rctx.URLParams
	var rest string
	for i, k := range params.Keys {
		v := params.Values[i]
		if k == "*" {
			rest = v
		}
		if strings.IndexByte(v, '%') >= 0 {
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
		}
		x.setPathValue(k, v)
	}
	c.rctxPool.Put(rctx)
	x.pattern = pattern
	if prefix != "" { // only under a mount: a concatenation costs a call
		x.pattern = prefix + pattern
	}
	if rt.mount {
		x.mountPattern = prefix + strings.TrimSuffix(strings.TrimSuffix(pattern, "*"), "/")
		x.mountPath = "/" + rest
		x.mounted = true
		rsp := rt.svcs[mi](req)
		x.mounted = false
		return rsp
	}
	return rt.svcs[mi](req)
}

// miss answers a request that matched no route of its method.
func (c *routerCore) miss(rctx *chi.Context, req Request, path string) Response {
	rctx.Reset()
	if c.paths.Find(rctx, http.MethodGet, path) == "" {
		return normalize(Response{Error: errNoRoute}, req)
	}
	var allow []string
	for i, m := range routeMethods {
		if c.methods&(1<<i) == 0 {
			continue
		}
		rctx.Reset()
		if c.mux.Find(rctx, m, path) != "" {
			allow = append(allow, m)
		}
	}
	rsp := normalize(Response{Error: errMethodNotAllowed}, req)
	rsp.Header.Set("Allow", strings.Join(allow, ", "))
	return rsp
}

// routingPath is the escaped path chi matches on, as http.ServeMux takes
// it: URL.EscapedPath, which ignores a RawPath that is not an encoding of
// Path (Path then decoded once, so "%2541" gives "%41", never "A").
func routingPath(r *http.Request) string {
	if r.URL == nil {
		return "/"
	}
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}
