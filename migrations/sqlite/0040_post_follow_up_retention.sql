-- Post follow-up's retention (issue 21): measurements of posts' figures are disposed of by their
-- time (`post_figures_days` in config/retention.toml), the largest of its tables.
create index post_insights_measured on post_insights (measured_at);
