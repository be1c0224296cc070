// The Redis connections of a distributed worker (the store's, BullMQ's, the subscriber).
import { Redis, type Command } from 'ioredis';

type Stream = Parameters<Redis['sendCommand']>[1];

/**
 * An ioredis client that holds its socket writes until the current tick's work is done, so the
 * commands many jobs send in one event-loop turn (script calls, BullMQ's completions and fetches,
 * PUBLISH) leave in one `writev`. On loopback each write is a syscall that runs the TCP path
 * inline; it was the largest single item of a short job's consumer CPU. ioredis' auto-pipelining
 * batches too but builds a Pipeline per turn, which cost more than it saved (measured on the
 * distributed benchmark). Order on the connection is unchanged: corking only delays the write.
 * BullMQ's blocking connection is its own `duplicate()`, a plain client: it only waits for jobs.
 */
export class CoalescingRedis extends Redis {
  private corked = false;

  override sendCommand(command: Command, stream?: Stream): unknown {
    const socket = this.stream as Redis['stream'] | undefined;
    if (!this.corked && socket && this.status === 'ready' && socket.writableCorked === 0) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    return super.sendCommand(command, stream);
  }
}

/**
 * A long-lived connection: commands wait for a reconnect instead of failing, and writes are
 * coalesced per tick (CoalescingRedis).
 */
export function redisClient(url: string, name: string): Redis {
  return new CoalescingRedis(url, { maxRetriesPerRequest: null, connectionName: name });
}
