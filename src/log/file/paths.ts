import { join } from 'node:path';

/**
 * Data directory layout:
 *
 *   DIR/LOCK                                   pid of the process holding the store
 *   DIR/checkpoint.json                        clean checkpoint (positions known good, producer state)
 *   DIR/producers.journal                      producer id and epoch allocations
 *   DIR/offsets.journal                        consumer-group committed offsets
 *   DIR/topics/<topic>/topic.json              topic config, written last: the commit point of creation
 *   DIR/topics/<topic>/<partition>/<base>.log|.index|.timeindex
 *   DIR/wal/0.wal, DIR/wal/1.wal               the write-ahead log (store-wal.ts)
 *   DIR/trash/<topic>.<id>                     a topic being deleted (renamed here first)
 */
export const SEGMENT_NAME = /^(\d{20})\.(log|index|timeindex)$/;
export const TOPIC_FILE = 'topic.json';

export function segmentFileName(baseOffset: number, kind: 'log' | 'index' | 'timeindex'): string {
  return `${String(baseOffset).padStart(20, '0')}.${kind}`;
}

export function dataPaths(dir: string) {
  return {
    lock: join(dir, 'LOCK'),
    checkpoint: join(dir, 'checkpoint.json'),
    producers: join(dir, 'producers.journal'),
    offsets: join(dir, 'offsets.journal'),
    topics: join(dir, 'topics'),
    trash: join(dir, 'trash'),
    wal: join(dir, 'wal'),
    topic: (topic: string) => join(dir, 'topics', topic),
    topicFile: (topic: string) => join(dir, 'topics', topic, TOPIC_FILE),
    partition: (topic: string, partition: number) => join(dir, 'topics', topic, String(partition)),
  };
}

export type DataPaths = ReturnType<typeof dataPaths>;
