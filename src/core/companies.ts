/** The seed scenario's default companies. */
export const DEFAULT_COMPANIES = [
  'Anthropic',
  'OpenAI',
  'Google DeepMind',
  'Meta AI',
  'Mistral AI',
  'Cohere',
  'AI21 Labs',
  'xAI',
  'Perplexity',
  'Hugging Face',
  'Stability AI',
  'Inflection AI',
] as const;
