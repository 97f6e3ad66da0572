// Placeholder: the Bigin sandbox is being written (see sandbox/server.ts for the contract).
export interface BiginSandboxOptions {
  processingMs?: number;
}
export interface BiginSandbox {
  handle(req: Request, url: URL, origin: string): Promise<Response | undefined>;
  state(): unknown;
}
export function createBiginSandbox(_options: BiginSandboxOptions = {}): BiginSandbox {
  return { handle: () => Promise.resolve(undefined), state: () => ({}) };
}
