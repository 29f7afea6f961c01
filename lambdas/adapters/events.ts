import { appendFile } from 'node:fs/promises';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type EventPublisher, type VouchEvent } from '#core/index.ts';
import { settingsFrom } from './clients.ts';

/** EventBridge takes at most 10 entries a call. */
const BATCH = 10;

/**
 * Publishes to an EventBridge bus. Entries EventBridge refuses are sent once more, then reported by a
 * throw naming how many were lost: the caller counts it and carries on (the decision is recorded either
 * way; events are a feed, the records table is the truth). The SDK is loaded at the first event, so a
 * verifier without a bus never pays for it at cold start.
 */
export function eventBridgePublisher(
  busName: string,
  env: NodeJS.ProcessEnv = process.env,
  given?: EventBridgeClient,
): EventPublisher {
  let sdk: Promise<typeof import('@aws-sdk/client-eventbridge')> | undefined;
  let client = given;
  return async (events) => {
    sdk ??= import('@aws-sdk/client-eventbridge');
    const { EventBridgeClient, PutEventsCommand } = await sdk;
    client ??= new EventBridgeClient(settingsFrom(env, 'EVENTBRIDGE'));
    for (let i = 0; i < events.length; i += BATCH) {
      let entries = events.slice(i, i + BATCH).map((event) => ({
        EventBusName: busName,
        Source: EVENT_SOURCE,
        DetailType: event.detailType,
        Detail: JSON.stringify(event.detail),
      }));
      for (let attempt = 0; attempt < 2 && entries.length > 0; attempt++) {
        const response = await client.send(new PutEventsCommand({ Entries: entries }));
        if (!response.FailedEntryCount) {
          entries = [];
          break;
        }
        entries = entries.filter((_entry, index) => response.Entries?.[index]?.ErrorCode);
      }
      if (entries.length > 0)
        throw new Error(`EventBridge refused ${entries.length} event(s) on ${busName} after a retry`);
    }
  };
}

/** The local stack's events: one JSON line each (as EventBridge would deliver them), and a printed line. */
export function fileEventPublisher(file: string, print?: (line: string) => void): EventPublisher {
  return async (events: readonly VouchEvent[]) => {
    const time = new Date().toISOString();
    const lines = events.map((event) =>
      JSON.stringify({ source: EVENT_SOURCE, 'detail-type': event.detailType, time, detail: event.detail }),
    );
    await appendFile(file, lines.map((line) => `${line}\n`).join(''));
    if (print)
      for (const event of events) {
        const detail = event.detail as {
          status?: string;
          objectKey?: string;
          expiresAt?: string;
          reason?: string;
        };
        print(
          `${time.slice(11, 19)}  EVENT       ${event.detailType}: ${detail.status ?? ''} ${detail.objectKey ?? `${detail.reason} (expires ${detail.expiresAt})`}`.replace(
            /\s+$/,
            '',
          ),
        );
      }
  };
}
