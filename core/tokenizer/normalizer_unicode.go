package tokenizer

import "golang.org/x/text/unicode/norm"

// unicodeNorm is one of the NFC, NFD, NFKC and NFKD normalizers (Qwen2
// uses NFC).
type unicodeNorm string

func (u unicodeNorm) normalize(s string) string {
	switch u {
	case "NFC":
		return norm.NFC.String(s)
	case "NFD":
		return norm.NFD.String(s)
	case "NFKC":
		return norm.NFKC.String(s)
	case "NFKD":
		return norm.NFKD.String(s)
	}
	return s
}
