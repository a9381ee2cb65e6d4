"""URLs of the web UI (namespace ``web``): "/" is the inbox."""

from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
    path("tasks/<int:pk>/<slug:action>/", views.task_action, name="task_action"),
    path("tasks/bulk/", views.tasks_bulk, name="tasks_bulk"),
    path("views/", views.saved_view_create, name="saved_view_create"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("lists/call/", views.call_list, name="call"),
    path("lists/expansion/", views.expansion, name="expansion"),
    path("lists/surging/", views.surging, name="surging"),
    path("lists/at-risk/", views.at_risk, name="at_risk"),
]
