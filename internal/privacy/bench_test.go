package privacy

import "testing"

// openAIAnswer is a non-streamed OpenAI chat completion as the API sends it:
// pretty-printed with two-space indentation, most of its bytes not text.
const openAIAnswer = `{
  "id": "chatcmpl-BRd4xq2Vw8mJkGQhYtZcE1nLp0sAf",
  "object": "chat.completion",
  "created": 1745925473,
  "model": "gpt-4o-2024-08-06",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": "The capital of Mexico is Mexico City (Ciudad de México).",
        "refusal": null,
        "annotations": []
      },
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 32,
    "completion_tokens": 41,
    "total_tokens": 73,
    "prompt_tokens_details": {
      "cached_tokens": 0,
      "audio_tokens": 0
    },
    "completion_tokens_details": {
      "reasoning_tokens": 0,
      "audio_tokens": 0,
      "accepted_prediction_tokens": 0,
      "rejected_prediction_tokens": 0
    }
  },
  "service_tier": "default",
  "system_fingerprint": "fp_f5bdcc3276"
}
`

// openAIStream is the same answer streamed: one small event per token.
const openAIStream = "data: {\"id\":\"chatcmpl-BRd4xq2Vw8mJkGQhYtZcE1nLp0sAf\",\"object\":\"chat.completion.chunk\",\"created\":1745925473,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_f5bdcc3276\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]}\n\n" +
	"data: {\"id\":\"chatcmpl-BRd4xq2Vw8mJkGQhYtZcE1nLp0sAf\",\"object\":\"chat.completion.chunk\",\"created\":1745925473,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_f5bdcc3276\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n" +
	"data: {\"id\":\"chatcmpl-BRd4xq2Vw8mJkGQhYtZcE1nLp0sAf\",\"object\":\"chat.completion.chunk\",\"created\":1745925473,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_f5bdcc3276\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" capital\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n" +
	"data: {\"id\":\"chatcmpl-BRd4xq2Vw8mJkGQhYtZcE1nLp0sAf\",\"object\":\"chat.completion.chunk\",\"created\":1745925473,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_f5bdcc3276\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" of\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n" +
	"data: {\"id\":\"chatcmpl-BRd4xq2Vw8mJkGQhYtZcE1nLp0sAf\",\"object\":\"chat.completion.chunk\",\"created\":1745925473,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_f5bdcc3276\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" Mexico\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n" +
	"data: {\"id\":\"chatcmpl-BRd4xq2Vw8mJkGQhYtZcE1nLp0sAf\",\"object\":\"chat.completion.chunk\",\"created\":1745925473,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_f5bdcc3276\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n" +
	"data: [DONE]\n\n"

// BenchmarkTextAnswer hashes a non-streamed OpenAI answer.
func BenchmarkTextAnswer(b *testing.B) {
	body := []byte(openAIAnswer)
	h := NewHasher([]byte("key"))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		h.SumText(body)
	}
}

// BenchmarkTextStream hashes a short streamed OpenAI answer.
func BenchmarkTextStream(b *testing.B) {
	body := []byte(openAIStream)
	h := NewHasher([]byte("key"))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		h.SumText(body)
	}
}

// BenchmarkWalk compares the text extraction alone, without the HMAC, with
// the decoder-based walker it replaced.
func BenchmarkWalk(b *testing.B) {
	for _, in := range []struct{ name, body string }{
		{"answer", openAIAnswer},
		{"stream", openAIStream},
	} {
		body := []byte(in.body)
		for _, impl := range []struct {
			name string
			text func([]byte) []byte
		}{
			{"walker", Text},
			{"reference", referenceText},
		} {
			b.Run(in.name+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					impl.text(body)
				}
			})
		}
	}
}
