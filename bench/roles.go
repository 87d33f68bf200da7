package main

import (
	"bufio"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// runRole runs one of the harness's helper processes, started pinned to a core:
//
//	backend -listen ADDR                  the fixed-body backend every scenario ends at
//	sign                                  prints the bare RSA-2048 signatures per second
//	verify                                prints the bare RSA-2048 verification time in ns
//	rate -url U -rate R -duration D [-H]  constant-rate load, prints p50 and p99 in ns
//	conns -addr A -n N [-H] -hold D       N keep-alive connections, each after one request
func runRole(role string, args []string) int {
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "")
	url := fs.String("url", "", "")
	addr := fs.String("addr", "", "")
	rate := fs.Int("rate", 1000, "")
	n := fs.Int("n", 1000, "")
	duration := fs.Duration("duration", 10*time.Second, "")
	hold := fs.Duration("hold", 3*time.Second, "")
	header := fs.String("H", "", "one request header, Name: value")
	_ = fs.Parse(args)

	switch role {
	case "backend":
		body := []byte(`{"ok":true}`)
		s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json")
			ctx.SetBody(body)
		}}
		go func() {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
			<-sig
			_ = s.Shutdown()
		}()
		if err := s.ListenAndServe(*listen); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "sign", "verify":
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		sum := sha256.Sum256([]byte("header.payload of a typical access token"))
		sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
		r := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				if role == "sign" {
					_, _ = rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
				} else {
					_ = rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig)
				}
			}
		})
		fmt.Println(r.NsPerOp())
		return 0
	case "rate":
		p50, p99, ok, err := constantRate(*url, *header, *rate, *duration)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(p50.Nanoseconds(), p99.Nanoseconds(), ok)
		return 0
	case "conns":
		var conns []net.Conn
		req := "GET /echo/conn HTTP/1.1\r\nHost: bench\r\n"
		if *header != "" {
			req += *header + "\r\n"
		}
		req += "\r\n"
		for i := 0; i < *n; i++ {
			c, err := net.Dial("tcp", *addr)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if _, err := c.Write([]byte(req)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			resp.Body.Close()
			conns = append(conns, c)
		}
		time.Sleep(*hold)
		fmt.Println(len(conns))
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown role", role)
	return 2
}
