import { randomUUID } from 'node:crypto';
import { SealbusError } from '../../../errors/index.js';
import type { MemberChannel } from '../types.js';
import type { MemberPush } from './wire.js';

/** A member of a client session on this broker whose group another broker coordinates. */
export interface RemoteMembership {
  readonly group: string;
  readonly memberId: string;
  /** The broker that admitted it: its heartbeats, commits and leave go there. */
  readonly coordinator: string;
  readonly channel: MemberChannel;
}

/** Pushes that may arrive before the join's reply (NATS delivers them apart); more are refused. */
const MAX_EARLY_PUSHES = 256;

class RemoteSession {
  readonly id = randomUUID();
  readonly members = new Map<string, RemoteMembership>();
  joining = 0;
  early: MemberPush[] = [];
}

/**
 * The member side of groups coordinated elsewhere: which coordinator holds each member of each
 * client session here, and delivery of the coordinators' pushes to the sessions' channels. A
 * session is known to other brokers by a random id only, never by anything the client sent.
 */
export class MemberRelay {
  readonly #byOwner = new WeakMap<object, RemoteSession>();
  /** Sessions with remote members or joins in flight, by id: what pushes are matched against. */
  readonly #active = new Map<string, RemoteSession>();

  /** A join is about to be forwarded for `owner`: pushes for its session are held until it ends. */
  beginJoin(owner: object): string {
    const session = this.#sessionOf(owner);
    session.joining++;
    this.#active.set(session.id, session);
    return session.id;
  }

  /** The forwarded join ended; with its membership when it succeeded, whose early pushes are delivered now. */
  endJoin(owner: object, membership: RemoteMembership | null): void {
    const session = this.#sessionOf(owner);
    session.joining = Math.max(0, session.joining - 1);
    if (membership !== null) {
      session.members.set(membership.memberId, membership);
      const early = session.early.filter((push) => memberOf(push) === membership.memberId);
      session.early = session.early.filter((push) => memberOf(push) !== membership.memberId);
      for (const push of early) this.#deliver(session, push);
    }
    if (session.joining === 0) session.early = [];
    this.#forgetIfIdle(session);
  }

  /** The id other brokers know the owner's session by. */
  sessionId(owner: object): string {
    return this.#sessionOf(owner).id;
  }

  find(owner: object, memberId: string): RemoteMembership | undefined {
    return this.#byOwner.get(owner)?.members.get(memberId);
  }

  /** Forgets a member (it left, was removed, or its coordinator is gone). */
  drop(owner: object, memberId: string): void {
    const session = this.#byOwner.get(owner);
    if (session === undefined) return;
    session.members.delete(memberId);
    this.#forgetIfIdle(session);
  }

  /** The session ended: its remote members, which the caller tells their coordinators about. */
  closeSession(owner: object): { session: string; members: RemoteMembership[] } | null {
    const session = this.#byOwner.get(owner);
    if (session === undefined) return null;
    const members = [...session.members.values()];
    session.members.clear();
    session.early = [];
    this.#forgetIfIdle(session);
    return { session: session.id, members };
  }

  /** A coordinator's push; `gone` when its session or member is not here any more (the coordinator then drops the member). */
  onPush(push: MemberPush): 'ok' | 'gone' {
    const session = this.#active.get(push.session);
    if (session === undefined) return 'gone';
    if (session.members.has(memberOf(push))) {
      this.#deliver(session, push);
      return 'ok';
    }
    if (session.joining > 0 && session.early.length < MAX_EARLY_PUSHES) {
      session.early.push(push);
      return 'ok';
    }
    return 'gone';
  }

  /** Sessions with remote members or joins in flight. */
  get size(): number {
    return this.#active.size;
  }

  #deliver(session: RemoteSession, push: MemberPush): void {
    const membership = session.members.get(memberOf(push));
    if (membership === undefined) return;
    if (push.op === 'assign') {
      if (push.assignment.group === membership.group) membership.channel.assign(push.assignment);
      return;
    }
    if (push.group !== membership.group) return;
    session.members.delete(push.memberId);
    this.#forgetIfIdle(session);
    membership.channel.removed(SealbusError.fromWire(push.error));
  }

  #sessionOf(owner: object): RemoteSession {
    let session = this.#byOwner.get(owner);
    if (session === undefined) this.#byOwner.set(owner, (session = new RemoteSession()));
    return session;
  }

  #forgetIfIdle(session: RemoteSession): void {
    if (session.members.size === 0 && session.joining === 0) this.#active.delete(session.id);
  }
}

function memberOf(push: MemberPush): string {
  return push.op === 'assign' ? push.assignment.memberId : push.memberId;
}
