"""What happens after a message went out: provider feedback (SES), opens and clicks, the
unsubscribe and preference-centre links, and the one event table that reporting reads."""
