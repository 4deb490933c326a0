"""The words roster exports use: column headers, role names and scope types, in zh-CN and en.

Add an alias here when a college's export names a column or role differently; the ids on the
right are the platform's (Role and ScopeKind values in shouwang_contracts).
"""

from __future__ import annotations

from .roster import ASSIGNABLE_ROLES

STUDENT_HEADERS: dict[str, tuple[str, ...]] = {
    "student_no": ("学号", "student_no", "studentno", "studentnumber", "studentid"),
    "name": ("姓名", "name", "studentname"),
    "gender": ("性别", "gender", "sex"),
    "college": ("学院", "二级学院", "院系", "college", "school", "faculty"),
    "major": ("专业", "major"),
    "class_name": ("班级", "class", "classname"),
    "campus_name": ("校区", "campus"),
    "building": ("楼栋", "宿舍楼", "楼号", "building", "dormbuilding"),
    "floor": ("楼层", "floor"),
    "room": ("寝室", "宿舍", "寝室号", "房间", "room", "dormroom"),
}
STUDENT_REQUIRED = ("student_no", "name")

STAFF_HEADERS: dict[str, tuple[str, ...]] = {
    "staff_no": ("工号/学号", "工号", "学号", "staff_no", "staffno", "number", "id", "personid"),
    "name": ("姓名", "name"),
    "role": ("角色", "职务", "role"),
    "scope_kind": ("范围类型", "scope_kind", "scopekind", "scopetype"),
    "scope_value": ("范围", "负责范围", "scope", "scope_value", "scopevalue"),
}
STAFF_REQUIRED = ("staff_no", "name", "role", "scope_kind")

ROLE_NAMES: dict[str, str] = {
    "寝室长": "dorm_leader",
    "楼层长": "floor_leader",
    "班级心理委员": "class_wellbeing_officer",
    "心理委员": "class_wellbeing_officer",
    "公寓辅导员": "residence_counselor",
    "社区心理教师": "community_psych_teacher",
    "心理健康教育与咨询中心": "counseling_center",
    "心理咨询中心": "counseling_center",
    "二级学院领导": "college_leader",
    "学院领导": "college_leader",
    "校区管理员": "campus_admin",
    "审计员": "auditor",
    "dorm leader": "dorm_leader",
    "dorm-room leader": "dorm_leader",
    "floor leader": "floor_leader",
    "class wellbeing officer": "class_wellbeing_officer",
    "residence counselor": "residence_counselor",
    "community psychology teacher": "community_psych_teacher",
    "counseling center": "counseling_center",
    "college leader": "college_leader",
    "campus administrator": "campus_admin",
    **{role: role for role in ASSIGNABLE_ROLES},
}

SCOPE_KIND_NAMES: dict[str, str] = {
    "寝室": "room",
    "宿舍": "room",
    "楼层": "floor",
    "楼栋": "building",
    "宿舍楼": "building",
    "班级": "class",
    "学院": "college",
    "二级学院": "college",
    "校区": "campus",
    "全校": "campus",
    **{kind: kind for kind in ("room", "floor", "building", "class", "college", "campus")},
}

#: How a row error names a scope type (zh-CN, English).
SCOPE_KIND_LABELS: dict[str, tuple[str, str]] = {
    "room": ("寝室", "room"),
    "floor": ("楼层", "floor"),
    "building": ("楼栋", "building"),
    "class": ("班级", "class"),
    "college": ("学院", "college"),
    "campus": ("校区", "campus"),
}
