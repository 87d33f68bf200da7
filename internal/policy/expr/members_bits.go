package expr

import (
	"encoding/binary"
	"math"
)

// buildBits adds the byte-level conversions IP range checks use: Convert.ToByte and
// BitConverter.ToInt32/ToUInt32/ToInt16, little-endian as .NET is on every platform APIM runs.
func (r *registry) buildBits() {
	cv, bc, byteT := r.types["Convert"], r.types["BitConverter"], r.types["byte"]
	cv.smeth("ToByte", 1, 2, byteT, func(e *env, args []any) (any, error) {
		v := fromJValue(args[0])
		if v == nil {
			return 0, nil
		}
		m := r.integer.smethods["Parse"]
		if _, ok := v.(string); ok {
			if len(args) == 2 {
				m = cv.smethods["ToInt32"]
			}
			n, err := m.call(e, nil, args, nil)
			if err != nil {
				return nil, err
			}
			v = n
		}
		if f, ok := v.(float64); ok {
			v = int64(math.RoundToEven(f))
			if f < 0 || f > 255 {
				return nil, throw("OverflowException", "value was either too large or too small for an unsigned byte")
			}
		}
		if b, ok := v.(bool); ok {
			if b {
				return 1, nil
			}
			return 0, nil
		}
		n, ok := toInt64(v)
		if !ok {
			return nil, invalidCast(v, "byte")
		}
		if n < 0 || n > 255 {
			return nil, throw("OverflowException", "value was either too large or too small for an unsigned byte")
		}
		return int(n), nil
	})
	read := func(name string, size int, ret *typeInfo, conv func(b []byte) any) {
		bc.smeth(name, 2, 2, ret, func(e *env, args []any) (any, error) {
			b, err := bytesArg(args, 0)
			if err != nil {
				return nil, err
			}
			i, err := iarg(args, 1)
			if err != nil {
				return nil, err
			}
			if i < 0 || i >= len(b) {
				return nil, throw("ArgumentOutOfRangeException", "startIndex is outside the array")
			}
			if len(b)-i < size {
				return nil, throw("ArgumentException", "the array is too short for %s at index %d", name, i)
			}
			return conv(b[i : i+size]), nil
		})
	}
	read("ToInt32", 4, r.integer, func(b []byte) any { return int(int32(binary.LittleEndian.Uint32(b))) })
	read("ToInt16", 2, r.integer, func(b []byte) any { return int(int16(binary.LittleEndian.Uint16(b))) })
	read("ToUInt16", 2, r.integer, func(b []byte) any { return int(binary.LittleEndian.Uint16(b)) })
	read("ToUInt32", 4, r.long, func(b []byte) any { return int64(binary.LittleEndian.Uint32(b)) })
	read("ToInt64", 8, r.long, func(b []byte) any { return int64(binary.LittleEndian.Uint64(b)) })
}
