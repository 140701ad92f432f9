// An activity of the project's own, registered beside the package's LLM and tool activities.
export async function wordCount(text: string): Promise<number> {
  return text.split(/\s+/).filter(Boolean).length;
}
