// Failed records come back after 1, 2, 4 ... s instead of the whole visibility timeout
// (the same rule as the Python consumers' retry_backoff.py): the queue's timeout stays
// the safety net for crashes, and maxReceiveCount still moves a poison record to the DLQ.
import { ChangeMessageVisibilityBatchCommand } from '@aws-sdk/client-sqs';

const MAX_VISIBILITY_SECONDS = 43_200;

export function backoffEntries(records, failedIds, baseSeconds) {
  const failed = new Set(failedIds);
  const entries = records
    .filter((record) => failed.has(record.messageId))
    .map((record, index) => {
      const received = Number(record.attributes?.ApproximateReceiveCount ?? '1');
      const seconds = Math.min(baseSeconds * 2 ** Math.max(received - 1, 0), MAX_VISIBILITY_SECONDS);
      return { Id: String(index), ReceiptHandle: record.receiptHandle, VisibilityTimeout: seconds };
    });
  const calls = [];
  for (let i = 0; i < entries.length; i += 10) calls.push(entries.slice(i, i + 10));
  return calls;
}

/** A failure here only means the records wait the full timeout, so it is logged, not thrown. */
export async function retryFailedSoon(sqs, queueUrl, records, failedIds, baseSeconds, logger) {
  if (!queueUrl || baseSeconds <= 0) return;
  for (const Entries of backoffEntries(records, failedIds, baseSeconds)) {
    try {
      const out = await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries }));
      if (out.Failed?.length) logger.warn('visibility not shortened', { failed: out.Failed });
    } catch (error) {
      logger.warn('visibility not shortened', { error });
    }
  }
}
