/** Agents' tools beyond the built-in ones: MCP servers (MCP_SERVERS, a JSON object of servers by name). */
import { z } from 'zod';
import { parseMcpServers } from '../mcp/config';
import { ConfigError } from './env';

export const toolsEnv = z
  .object({
    /**
     * `{"docs": {"command": "node", "args": ["server.js"]}, "search": {"url": "http://host/mcp", "headers": {...}}}`;
     * their tools are offered to agents as `mcp__<server>__<tool>`.
     */
    MCP_SERVERS: z.string().optional(),
  })
  .transform((e) => {
    try {
      return { mcpServers: parseMcpServers(e.MCP_SERVERS) };
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  });
export type ToolsConfig = z.infer<typeof toolsEnv>;
