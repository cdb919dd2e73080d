// The reference system's producers (its publishEvent and putEvent), with the AWS SDK for
// JavaScript v3 instead of v2, the project's event envelope, and no swallowed errors:
// a failed call rejects with an error naming the event, and EventBridge entries it
// refused reject too instead of being logged and forgotten.
import { randomUUID } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';

export const EVENT_TYPES = ['user_signup', 'order_placed'];
export const SOURCE = 'my.application';
export const DETAIL_TYPE = 'application.event';

/** Raised when an event is refused before any call: the envelope is wrong. */
export class InvalidEventError extends Error {
  constructor(field, problem) {
    super(`${field} ${problem}`);
    this.name = 'InvalidEventError';
    this.field = field;
  }
}

/** Raised when SNS or EventBridge did not take an event. */
export class PublishError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'PublishError';
  }
}

/** A copy of `message` with event_id and correlation_id filled in. */
export function prepareEvent(message) {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    throw new InvalidEventError('message', 'must be a JSON object');
  }
  if (!EVENT_TYPES.includes(message.event_type)) {
    throw new InvalidEventError('event_type', `must be one of ${EVENT_TYPES.join(', ')}, got ${JSON.stringify(message.event_type)}`);
  }
  const event = { ...message };
  for (const field of ['event_id', 'correlation_id']) {
    if (event[field] === undefined) event[field] = randomUUID();
    else if (typeof event[field] !== 'string' || !event[field].trim()) {
      throw new InvalidEventError(field, 'must be a non-empty string');
    }
  }
  return event;
}

const attribute = (value) => ({ DataType: 'String', StringValue: String(value) });

/** Publish one event to the EventTopic; resolves to its event_id. */
export async function publishEvent(message, { topicArn, sns = new SNSClient({}) }) {
  const event = prepareEvent(message);
  let result;
  try {
    result = await sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Message: JSON.stringify(event),
        // Subscriptions filter on event_type; consumers correlate on the ids.
        MessageAttributes: {
          event_type: attribute(event.event_type),
          event_id: attribute(event.event_id),
          correlation_id: attribute(event.correlation_id),
        },
      }),
    );
  } catch (error) {
    throw new PublishError(`SNS publish to ${topicArn} failed for event ${event.event_id}: ${error.message}`, { cause: error });
  }
  console.log('Message published:', result.MessageId);
  return event.event_id;
}

/** Put one event on an EventBridge bus; resolves to its event_id. */
export async function putEvent(detail, { busName = 'default', events = new EventBridgeClient({}) } = {}) {
  const event = prepareEvent(detail);
  let result;
  try {
    result = await events.send(
      new PutEventsCommand({
        Entries: [{ Source: SOURCE, DetailType: DETAIL_TYPE, Detail: JSON.stringify(event), EventBusName: busName }],
      }),
    );
  } catch (error) {
    throw new PublishError(`PutEvents on ${busName} failed for event ${event.event_id}: ${error.message}`, { cause: error });
  }
  // PutEvents answers 200 even when it refused the entry: that is a failure too.
  const [entry] = result.Entries ?? [];
  if (result.FailedEntryCount || !entry?.EventId) {
    throw new PublishError(`EventBridge refused event ${event.event_id} on ${busName}: ${entry?.ErrorCode} ${entry?.ErrorMessage}`);
  }
  console.log('Event sent to EventBridge:', entry.EventId);
  return event.event_id;
}
