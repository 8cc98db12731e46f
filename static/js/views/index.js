// Every view of the console, in navigation order. A view is shown only to those who have one of
// its capabilities (`needs`, any one of them; [] for everyone). Add a view by writing
// views/<name>.js (see static/README.md) and listing it here.

import { view as inbox } from './inbox.js';
import { view as search } from './search.js';
import { view as training } from './training.js';
import { view as faq } from './faq.js';
import { view as moderation } from './moderation.js';
import { view as admin } from './admin.js';
import { view as synonyms } from './synonyms.js';
import { view as categories } from './categories.js';
import { view as audit } from './audit.js';
import { view as reports } from './reports.js';
import { view as posts } from './posts.js';

export const views = [inbox, search, faq, moderation, reports, posts, admin, synonyms, categories, audit, training];
