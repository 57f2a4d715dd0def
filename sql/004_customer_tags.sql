-- Customer tags (QYW-24..32): groups per company (基本功能, 关注点, 级别, 自定义), tags in
-- groups, and which customers carry which tag.

create table tag_group (
    id          bigserial primary key,
    company_id  bigint not null references company(id) on delete cascade,
    name        text not null,
    sort        smallint not null,
    constraint tag_group_name_key unique (company_id, name)
);

create table customer_tag (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    group_id     bigint not null references tag_group(id) on delete cascade,
    name         text not null,
    create_date  timestamptz not null default now(),
    constraint customer_tag_name_key unique (company_id, name)
);

create table customer_tag_link (
    tag_id       bigint not null references customer_tag(id) on delete cascade,
    customer_id  bigint not null references customer(id) on delete cascade,
    primary key (tag_id, customer_id)
);
create index customer_tag_link_customer_idx on customer_tag_link (customer_id);

-- Seeds one company's groups and default tags.
create function seed_tag_groups(p_company bigint) returns void language sql as $$
    insert into tag_group (company_id, name, sort)
    values (p_company, '基本功能', 1), (p_company, '关注点', 2), (p_company, '级别', 3), (p_company, '自定义', 4)
    on conflict do nothing;
    insert into customer_tag (company_id, group_id, name)
    select p_company, g.id, t.name
    from (values ('基本功能', '已婚'), ('基本功能', '未婚'), ('基本功能', '80后'), ('基本功能', '90后'),
                 ('关注点', '价格'), ('关注点', '质量'), ('关注点', '服务'),
                 ('级别', '重要客户'), ('级别', '普通客户')) as t(grp, name)
    join tag_group g on g.company_id = p_company and g.name = t.grp
    on conflict do nothing;
$$;

select seed_tag_groups(id) from company;
