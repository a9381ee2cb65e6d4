"""URLs of the web UI (namespace ``web``): "/" is the inbox."""

from django.urls import path

from . import account_page, inbox, lists, saved_views, task_actions, task_pane

app_name = "web"

urlpatterns = [
    path("", inbox.inbox, name="inbox"),
    path("tasks/<int:pk>/", task_pane.task_detail, name="task"),
    path("tasks/<int:pk>/<slug:action>/", task_actions.task_action, name="task_action"),
    path("tasks/bulk/", task_actions.tasks_bulk, name="tasks_bulk"),
    path("views/", saved_views.saved_view_create, name="saved_view_create"),
    path("views/<int:pk>/delete/", saved_views.saved_view_delete, name="saved_view_delete"),
    path("accounts/", lists.accounts, name="accounts"),
    path("accounts/<int:pk>/", account_page.account_detail, name="account"),
    path("lists/call/", lists.call_list, name="call"),
    path("lists/expansion/", lists.expansion, name="expansion"),
    path("lists/surging/", lists.surging, name="surging"),
    path("lists/at-risk/", lists.at_risk, name="at_risk"),
]
