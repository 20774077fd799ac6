package netstall_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/onramp/onramp/internal/netstall"
)

// echo serves one line echo per connection.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(l))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return err
}

func TestProxy(t *testing.T) {
	p := netstall.Start(t, echo(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Stall()
	if err := roundTrip(c, 200*time.Millisecond); err == nil {
		t.Fatal("a stalled proxy forwarded")
	}
	p.Resume()
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := roundTrip(c2, time.Second); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	p.Down()
	if err := roundTrip(c2, time.Second); err == nil {
		t.Fatal("a down proxy kept its connection")
	}
	if c3, err := net.Dial("tcp", p.Addr()); err == nil {
		if roundTrip(c3, 300*time.Millisecond) == nil {
			t.Fatal("a down proxy served a new connection")
		}
		c3.Close()
	}
	p.Resume()
	c4, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if err := roundTrip(c4, time.Second); err != nil {
		t.Fatalf("back up: %v", err)
	}
}
