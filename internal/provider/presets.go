package provider

// preset is what the gateway knows of an OpenAI-compatible provider type
// beyond its base URL (config.PresetURLs): request fields it accepts beyond
// the OpenAI schema, OpenAI fields it rejects (refused by the gateway with a
// 400 naming them, instead of the provider's less helpful error), and
// whether it understands stream_options (without it, usage must come some
// other way: Mistral sends it on the final chunk unasked).
type preset struct {
	extra           []string
	reject          []string
	noStreamOptions bool
}

// presets are the known quirks, from each provider's API reference.
var presets = map[string]preset{
	// https://console.groq.com/docs/openai: unsupported fields.
	"groq": {reject: []string{"logprobs", "top_logprobs", "logit_bias", "audio", "prediction"}},
	// Mistral reports usage on the last chunk and has its own extras.
	"mistral":   {extra: []string{"safe_prompt", "random_seed"}, reject: []string{"logit_bias", "logprobs", "top_logprobs", "audio"}, noStreamOptions: true},
	"deepseek":  {reject: []string{"audio", "prediction"}},
	"together":  {extra: []string{"top_k", "min_p", "repetition_penalty", "safety_model"}},
	"fireworks": {extra: []string{"top_k", "min_p", "repetition_penalty", "context_length_exceeded_behavior"}},
	// https://openrouter.ai/docs: routing and transform controls.
	"openrouter": {extra: []string{"provider", "transforms", "models", "route", "reasoning", "usage", "top_k", "min_p", "top_a", "repetition_penalty"}},
	"xai":        {reject: []string{"audio", "prediction"}},
	// https://docs.perplexity.ai: search controls.
	"perplexity": {extra: []string{"search_domain_filter", "return_images", "return_related_questions", "search_recency_filter", "search_mode", "top_k"},
		reject: []string{"tools", "tool_choice", "logit_bias", "logprobs", "n"}},
	// https://inference-docs.cerebras.ai: unsupported OpenAI fields.
	"cerebras": {reject: []string{"frequency_penalty", "presence_penalty", "logit_bias", "audio", "prediction"}},
	"ollama":   {extra: []string{"keep_alive", "options", "think"}},
	// https://docs.vllm.ai: sampling and guided decoding extensions.
	"vllm": {extra: []string{"top_k", "min_p", "repetition_penalty", "best_of", "use_beam_search", "length_penalty",
		"ignore_eos", "min_tokens", "skip_special_tokens", "guided_json", "guided_regex", "guided_choice", "guided_grammar",
		"guided_decoding_backend", "chat_template", "chat_template_kwargs", "add_generation_prompt"}},
	"lmstudio": {extra: []string{"top_k", "repeat_penalty", "ttl", "draft_model"}},
}
