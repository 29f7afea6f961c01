#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx vouch` works right after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./vouch.ts');
process.exitCode = await main(process.argv.slice(2));
