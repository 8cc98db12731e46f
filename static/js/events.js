// One live stream per page from GET /api/v1/events (server-sent events). The browser resumes
// with Last-Event-ID by itself after a dropped connection; when it gives up (the stream was
// refused or ended for good) we open a new one with ?after=<last seq>, waiting longer each time.
// Views subscribe with ctx.events.subscribe(fn) and get {kind, seq, conversation_id, ...}.

const KINDS = [
  'message.received', 'message.changed', 'message.sent', 'message.delivery_changed',
  'messages.delivered', 'message.retried', 'conversation.claimed', 'conversation.released',
  'conversation.replied', 'conversation.status_changed', 'comment.private_reply',
  'post.changed', 'reaction.changed', 'moderation.case_opened', 'moderation.case_changed',
  'moderation.case_closed', 'moderation.evidence_captured', 'faq.curated',
  'faq.questions_moved', 'channel.registered', 'channel.approved', 'channel.changed',
  'quarantine.added', 'conversation.noted', 'conversation.handed_over',
  'conversation.categorised',
];

export class LiveEvents {
  constructor({ onLost, onBack } = {}) {
    this.listeners = new Set();
    this.lastSeq = null;
    this.source = null;
    this.retryMs = 1000;
    this.timer = null;
    this.lost = false;
    this.onLost = onLost;
    this.onBack = onBack;
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start() {
    this.stop();
    const url = this.lastSeq === null ? '/api/v1/events' : `/api/v1/events?after=${this.lastSeq}`;
    const source = new EventSource(url);
    this.source = source;
    const handle = (e) => {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        return;
      }
      if (typeof data.seq === 'number') this.lastSeq = data.seq;
      for (const fn of this.listeners) {
        try {
          fn(data);
        } catch (err) {
          console.error(err);
        }
      }
    };
    for (const kind of KINDS) source.addEventListener(kind, handle);
    source.onmessage = handle;
    source.onopen = () => {
      this.retryMs = 1000;
      if (this.lost) {
        this.lost = false;
        this.onBack?.();
      }
    };
    source.onerror = () => {
      if (!this.lost) {
        this.lost = true;
        this.onLost?.();
      }
      if (source.readyState === EventSource.CLOSED) {
        this.timer = setTimeout(() => this.start(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 30000);
      }
    };
  }

  stop() {
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
  }
}
