// Child process for the memory benchmark: loads the digest code, digests the file (or not), reports peak RSS.
import { digestFile } from '#core/digest.ts';

const file = process.argv[2];
if (file && file !== '-') await digestFile(file, ['sha256']);
process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
