// signup_consumer: user_signup events from SQS SignupQueue into SIGNUPS_TABLE.
//
// Partial batch failures: a bad record is reported in batchItemFailures and only it
// returns to the queue. Each event is processed at most once per event id (Powertools
// idempotency on IDEMPOTENCY_TABLE). The AWS SDK clients take no endpoint option: they
// read AWS_ENDPOINT_URL, which the sandbox sets, as on AWS they would use the defaults.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { idempotencyKey, InvalidSignup, parseSignup, signupUpdate } from './domain.mjs';
import { retryFailedSoon } from './retry_backoff.mjs';

const logger = new Logger({ serviceName: 'signup_consumer' });
// Module scope: created once per execution environment, reused by every invocation.
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const sqs = new SQSClient({});
const SIGNUPS_TABLE = process.env.SIGNUPS_TABLE;
const SOURCE_QUEUE_URL = process.env.SOURCE_QUEUE_URL ?? '';
const RETRY_SECONDS = Number(process.env.FAILED_RECORD_RETRY_SECONDS ?? '0');

const idempotencyConfig = new IdempotencyConfig({
  eventKeyJmesPath: 'idempotency_key',
  throwOnNoIdempotencyKey: true,
});
const processor = new BatchProcessor(EventType.SQS);

const storeOnce = makeIdempotent(
  async (work) => {
    const signup = parseSignup(work.body);
    await documents.send(
      new UpdateCommand({ TableName: SIGNUPS_TABLE, ...signupUpdate(signup, Date.now() / 1000) }),
    );
    logger.info('signup stored', { user_id: signup.user_id, event_id: signup.event_id });
    return { user_id: signup.user_id, event_id: signup.event_id };
  },
  {
    persistenceStore: new DynamoDBPersistenceLayer({ tableName: process.env.IDEMPOTENCY_TABLE }),
    config: idempotencyConfig,
  },
);

async function recordHandler(record) {
  logger.appendKeys({ message_id: record.messageId });
  try {
    return await storeOnce({
      idempotency_key: idempotencyKey(record.body, record.messageId),
      body: record.body,
    });
  } catch (error) {
    // Rethrown: the batch processor turns it into this record's failure.
    if (error instanceof InvalidSignup) logger.error('signup rejected', { reason: error.message, field: error.field });
    else logger.error('signup processing failed', { error });
    throw error;
  }
}

export const handler = async (event, context) => {
  logger.addContext(context);
  // Lets an in-progress idempotency record expire with this invocation's deadline.
  idempotencyConfig.registerLambdaContext(context);
  const response = await processPartialResponse(event, recordHandler, processor, {
    context,
    throwOnFullBatchFailure: false,
  });
  const failed = response.batchItemFailures.map((item) => item.itemIdentifier);
  logger.removeKeys(['message_id']);
  logger.info('batch processed', { records: event.Records.length, failed });
  await retryFailedSoon(sqs, SOURCE_QUEUE_URL, event.Records, failed, RETRY_SECONDS, logger);
  return response;
};
