// node cli.mjs publish-event|put-event '<event JSON>' [--topic-arn ARN] [--bus NAME]
// Prints {"event_id": ...}; exits 1 with the error on stderr when the event was not taken.
import { parseArgs } from 'node:util';
import { publishEvent, putEvent } from './producers.mjs';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'topic-arn': { type: 'string' }, bus: { type: 'string', default: 'default' } },
});
const [command, json] = positionals;
try {
  const event = JSON.parse(json ?? 'null');
  let eventId;
  if (command === 'publish-event') {
    if (!values['topic-arn']) throw new Error('publish-event needs --topic-arn');
    eventId = await publishEvent(event, { topicArn: values['topic-arn'] });
  } else if (command === 'put-event') {
    eventId = await putEvent(event, { busName: values.bus });
  } else {
    throw new Error(`unknown command ${JSON.stringify(command)}: use publish-event or put-event`);
  }
  process.stdout.write(JSON.stringify({ event_id: eventId }) + '\n');
} catch (error) {
  process.stderr.write(`${error.name}: ${error.message}\n`);
  process.exitCode = 1;
}
