// VS Code client for calcformula's language server (`calcformula lsp`, over stdio).
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function settings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration("calcformula");
  return {
    schema: config.get("schema"),
    object: config.get("object"),
    formatStyle: config.get("formatStyle"),
    lint: config.get("lint"),
  };
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const command = vscode.workspace
    .getConfiguration("calcformula")
    .get<string[]>("serverCommand", ["calcformula", "lsp"]);
  const serverOptions: ServerOptions = {
    command: command[0],
    args: command.slice(1),
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "calcformula" },
      { scheme: "file", pattern: "**/calcformula.{yaml,yml}" },
    ],
    initializationOptions: { calcformula: settings() },
    synchronize: {
      // Settings changes reach the server as workspace/didChangeConfiguration.
      configurationSection: "calcformula",
      // Schema and manifest changes reload the server's workspace.
      fileEvents: vscode.workspace.createFileSystemWatcher(
        "**/{calcformula.yaml,calcformula.yml,*.json}",
      ),
    },
  };
  client = new LanguageClient("calcformula", "calcformula", serverOptions, clientOptions);
  context.subscriptions.push(client);
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
