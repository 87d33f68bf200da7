package expr

import (
	"errors"
	"testing"
)

// TestByteConversions covers Convert.ToByte and BitConverter's readers, little-endian as in .NET.
func TestByteConversions(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"to byte from int", `@(Convert.ToByte(200) + Convert.ToByte("7") + Convert.ToByte("ff", 16))`, "462"},
		{"to byte rounds doubles", `@(Convert.ToByte(2.5) + "|" + Convert.ToByte(3.5))`, "2|4"},
		{"to int32 little-endian", `@(BitConverter.ToInt32(new byte[] {10, 0, 0, 1}, 0))`, "16777226"},
		{"to int32 negative", `@(BitConverter.ToInt32(new byte[] {0xFF, 0xFF, 0xFF, 0xFF}, 0))`, "-1"},
		{"to int32 at offset", `@(BitConverter.ToInt32(new byte[] {9, 1, 0, 0, 0}, 1))`, "1"},
		{"to int16 and uint16", `@(BitConverter.ToInt16(new byte[] {0xFF, 0xFF}, 0) + "|" + BitConverter.ToUInt16(new byte[] {0xFF, 0xFF}, 0))`, "-1|65535"},
		{"round trip", `@(BitConverter.ToInt32(BitConverter.GetBytes(-123456), 0))`, "-123456"},
	}
	ctx := testContext(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evalString(t, tc.src, ctx); got != tc.want {
				t.Errorf("Eval(%s) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
	errs := []struct{ name, src, exception string }{
		{"to byte overflow", `@(Convert.ToByte(256))`, "OverflowException"},
		{"to byte negative", `@(Convert.ToByte(-1))`, "OverflowException"},
		{"to byte hex overflow", `@(Convert.ToByte("1ff", 16))`, "OverflowException"},
		{"to int32 too short", `@(BitConverter.ToInt32(new byte[] {1, 2, 3}, 0))`, "ArgumentException"},
		{"to int32 index outside", `@(BitConverter.ToInt32(new byte[] {1, 2, 3, 4}, 4))`, "ArgumentOutOfRangeException"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mustCompile(t, tc.src).Eval(ctx)
			var ex *Exception
			if !errors.As(err, &ex) || ex.Type != tc.exception {
				t.Fatalf("Eval(%s) = %v, want %s", tc.src, err, tc.exception)
			}
		})
	}
}
