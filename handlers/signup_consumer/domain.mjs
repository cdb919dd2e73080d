// What signup_consumer does with one SQS record, as pure functions (no AWS calls).

/** The record cannot be processed as it is; retrying will not help. */
export class InvalidSignup extends Error {
  constructor(field, value, problem) {
    super(`${field}=${JSON.stringify(value)?.slice(0, 200)}: ${problem}`);
    this.name = 'InvalidSignup';
    this.field = field;
  }
}

const REQUIRED = ['event_id', 'correlation_id', 'user_id', 'email', 'name'];

/** The signup in an SQS body (SNS raw delivery: the producer's JSON unchanged). */
export function parseSignup(body) {
  let data;
  try {
    data = JSON.parse(body);
  } catch {
    throw new InvalidSignup('body', body, 'is not valid JSON');
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidSignup('body', data, 'is not a JSON object');
  }
  if (data.event_type !== 'user_signup') {
    throw new InvalidSignup('event_type', data.event_type, "must be 'user_signup'");
  }
  for (const field of REQUIRED) {
    if (typeof data[field] !== 'string' || !data[field].trim()) {
      throw new InvalidSignup(field, data[field], 'must be a non-empty string');
    }
  }
  if (!data.email.includes('@')) throw new InvalidSignup('email', data.email, "has no '@'");
  return Object.fromEntries(REQUIRED.map((field) => [field, data[field]]));
}

/** The event id when the body carries one (it survives re-publishing), else the message id. */
export function idempotencyKey(body, messageId) {
  try {
    const id = JSON.parse(body)?.event_id;
    if (typeof id === 'string' && id) return id;
  } catch {
    // an unparseable body still gets a per-message key
  }
  return messageId;
}

/**
 * The SIGNUPS_TABLE write for one accepted signup (key user_id): SET every field, then
 * ADD write_count 1, as every handler of the application ends its write.
 */
export function signupUpdate(signup, writtenAt) {
  const { user_id: userId, ...fields } = { ...signup, consumer: 'signup_consumer', written_at: writtenAt };
  const names = Object.keys(fields);
  return {
    Key: { user_id: userId },
    UpdateExpression: `SET ${names.map((_, i) => `#f${i} = :v${i}`).join(', ')} ADD #count :one`,
    ExpressionAttributeNames: Object.fromEntries([
      ...names.map((name, i) => [`#f${i}`, name]),
      ['#count', 'write_count'],
    ]),
    ExpressionAttributeValues: Object.fromEntries([
      ...names.map((name, i) => [`:v${i}`, fields[name]]),
      [':one', 1],
    ]),
  };
}
